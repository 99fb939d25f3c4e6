"""Command line: ``python -m nbmessages serve [...]`` runs the local Messages API server."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the local Messages API server (offline model, faults, replay)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: a free one, printed at start)")
    serve.add_argument("--pace", type=float, default=150.0, help="output tokens per second (0: no delay)")
    serve.add_argument("--ttft", type=float, default=0.3, help="seconds before the first token (default 0.3)")
    serve.add_argument("--key", help="require this API key (x-api-key or Authorization: Bearer)")
    serve.add_argument("--replay", metavar="CASSETTE", help="answer from this cassette file instead")
    serve.add_argument("--record", metavar="CASSETTE", help="proxy to --upstream and record into this file")
    serve.add_argument("--upstream", metavar="URL", help="where --record forwards, e.g. https://api.anthropic.com")
    serve.add_argument("--fault", help="inject this fault, e.g. 'server_error;times=2' (see the README)")
    serve.add_argument("--fault-rate", type=float, default=1.0, help="probability of --fault per request")
    serve.add_argument("--batch-delay", type=float, default=2.0,
                       help="seconds a Message Batch takes to process (default 2; per batch: x-nbmessages-batch-delay)")
    serve.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    serve.add_argument("--rpm", type=float, help="rate limit: requests per minute (429 with retry-after past it)")
    serve.add_argument("--itpm", type=float, help="rate limit: input tokens per minute")
    serve.add_argument("--otpm", type=float, help="rate limit: output tokens per minute (max_tokens reserved)")
    serve.add_argument("--burst", type=float, default=60.0,
                       help="seconds of refill a rate-limit bucket holds (default 60: a minute's worth at once)")
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    from .local import start  # imported here so other subcommands stay light

    if args.record and not args.upstream:
        print("error: --record needs --upstream URL", file=sys.stderr)
        return 2
    server = start(host=args.host, port=args.port, pace=args.pace, ttft=args.ttft, key=args.key,
                   replay=args.replay, record=args.record, upstream=args.upstream, fault=args.fault,
                   fault_rate=args.fault_rate, seed=args.seed, rpm=args.rpm, itpm=args.itpm,
                   otpm=args.otpm, burst=args.burst, batch_delay=args.batch_delay)
    print(f"nbmessages local server listening on {server.base_url}", flush=True)
    print(f"  Anthropic base URL: {server.base_url}   OpenRouter base URL: {server.openrouter_base_url}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``nbmessages`` argument parser, one subparser per subcommand."""
    parser = argparse.ArgumentParser(prog="nbmessages", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the subcommand named on the command line."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
