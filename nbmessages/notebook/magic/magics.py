"""The IPython magics: ``%%message`` / ``%message`` (ask, stream, render) and ``%nbmessages`` (session settings)."""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ...request.builder import Request
from ..chat import Chat
from ..live_call import SHOWN_ERRORS, LiveCall
from ..render import IPythonPublisher, error_markdown, error_plain
from ..render.blocks import shorten_data
from ..turns import DEFAULT_MAX_ITERATIONS
from . import options as opts
from .commands import USAGE_TITLE, SettingsCommands, magic_hint
from .helptext import plain_help
from .session import DEFAULT_CHAT, Session

_session: Session | None = None


def session() -> Session:
    """The session of this Python process (settings and chats of the magics)."""
    global _session
    if _session is None:
        _session = Session()
    return _session


def reset_session() -> None:
    """Forget the session: its settings, clients and chats (the next magic starts afresh)."""
    global _session
    _session = None


def show_error(error: BaseException) -> None:
    """Display an error in the renderer's error box (no traceback)."""
    words = {"title": USAGE_TITLE if isinstance(error, UsageError) else None, "hint": magic_hint(error)}
    IPythonPublisher().show({"text/markdown": error_markdown(error, **words) + "\n",
                             "text/plain": error_plain(error, **words)})


def show_json(title: str, sections: list[tuple[str, Any]]) -> None:
    """Display JSON documents under headings (the dry run, the raw exchange); base64 shortened."""
    texts = [(head, json.dumps(shorten_data(body), ensure_ascii=False, indent=2)) for head, body in sections]
    md = [f"**{title}**"] + [f"*{head}*\n\n```json\n{text}\n```" for head, text in texts]
    plain = [title] + [f"{head}:\n{text}" for head, text in texts]
    IPythonPublisher().show({"text/markdown": "\n\n".join(md) + "\n", "text/plain": "\n\n".join(plain)})


@magics_class
class MessageMagics(Magics):
    """``%%message``, ``%message`` and ``%nbmessages``."""

    @magic_arguments()
    @opts.request_arguments()  # every request option, from the settings table
    @argument("--max-rounds", type=int, default=DEFAULT_MAX_ITERATIONS,
              help="the tool loop's guard: at most this many requests")
    @argument("--attach", action="append", metavar="PATH_OR_VAR", help="attach an image or PDF (repeatable)")
    @argument("--no-stream", action="store_true", help="wait for the whole answer instead of streaming it")
    @argument("--raw", action="store_true", help="also show the JSON exchange: request bodies and responses")
    @argument("-o", "--out", metavar="NAME", help="store the final Message (with --schema: the parsed object)")
    @argument("--chat", metavar="NAME", help="continue the named conversation (default: the current one)")
    @argument("--new", action="store_true", help="start the conversation over")
    @argument("--dry-run", action="store_true", help="show the request body and send nothing")
    @argument("--profile", help="backend profile for this call: anthropic, openrouter, local, compatible")
    @argument("--no-vars", action="store_true", help="send {braces} as written (no variable filling)")
    @argument("--retry", action="store_true", help="drop the chat's last answer and ask again")
    @argument("--map", metavar="DATA", help="one call per row of this DataFrame (or Series, list): the cell is "
                                           "the template naming its columns; the result is a DataFrame")
    @argument("--concurrency", type=int, default=16, help="with --map: at most this many requests at once")
    @argument("-h", "--help", action="store_true", help="show this help")
    @no_var_expand  # IPython would fill {name} and $name in the line itself; our templating does it safely
    @line_cell_magic
    def message(self, line: str, cell: str | None = None) -> Any:
        """Ask the model: the cell (or the rest of the line) is the prompt; the answer streams in below.

        ``{name}``, ``{name.attr}`` and ``{name[key]}`` naming a notebook variable are filled in; other
        braces are sent unchanged. Cells continue the default chat (``--chat NAME`` for others, ``--new`` to
        start over); ``%message --retry`` asks the last question again. A line prompt ending in ``?`` is
        taken by IPython as a help request: use the cell form for those.
        """
        if cell is None:
            line, prompt = opts.split_line(self.message.parser, line)
        else:
            prompt = cell
        with warnings.catch_warnings(record=True) as caught:
            try:
                args = opts.unquote(parse_argstring(self.message, line))
                if args.help:
                    print(plain_help(self.message.__doc__ or ""))
                    return None
                return self._run(args, prompt)
            except (UsageError, OSError, ValueError, *SHOWN_ERRORS) as exc:
                show_error(exc)
                return None
            finally:
                for w in caught:  # one line each, without the file paths a warning shows by default
                    print(f"nbmessages: {str(w.message).removeprefix('nbmessages: ')}", file=sys.stderr)

    @line_magic
    def nbmessages(self, line: str) -> None:
        """Session settings and status: model, profile, max_tokens, budget, base_url, header, keys, models, chats."""
        try:
            SettingsCommands(session()).run(line)
        except (UsageError, ValueError, *SHOWN_ERRORS) as exc:
            show_error(exc)

    # -- one call

    def _run(self, args: Any, prompt: str) -> Any:
        s = session()
        ns = self.shell.user_ns if self.shell is not None else {}
        if args.map:
            return self._map(args, prompt, ns)
        name = args.chat or (s.current_chat if args.retry else DEFAULT_CHAT)
        chat = s.chat(name)
        if args.retry:
            plan, history = self._retry(args, name, chat)
        else:
            plan, history = self._plan(args, prompt, ns, name), [] if args.new else list(chat.turns)
        for warning in plan.warnings:
            print(warning, file=sys.stderr)
        request = Request(messages=[*Chat(name, history).messages, {"role": "user", "content": plan.content}],
                          **plan.params)
        client = s.client(plan.profile)
        if args.dry_run:
            body = _sent_body(client, request, plan.stream)
            show_json(f"Dry run: nothing was sent (profile {client.profile.name})", [("request body", body)])
            return None
        s.plans[name] = plan
        outcome = LiveCall(client, request, stream=plan.stream, chat=name,
                           max_rounds=plan.max_rounds, hint=magic_hint, call_options=plan.call_options).run()
        if outcome.ok and outcome.loop is not None:
            chat.turns[:] = [*history, {"role": "user", "content": plan.content}, *outcome.loop.turns]
        s.current_chat, s.last_message = name, outcome.final
        if plan.raw:
            show_json("Raw exchange", _exchange(client, outcome.exchanges, plan.stream))
        return self._result(plan, outcome, ns)

    def _map(self, args: Any, prompt: str, ns: dict[str, Any]) -> Any:
        """``--map DATA``: the cell is a template over DATA's columns, sent once per row (see nbmessages.map)."""
        from ..map import map as run_map  # pandas loads only for a map

        s = session()
        data = opts.lookup(ns, args.map, "--map")
        template = prompt.strip("\n").rstrip()
        if not template.strip():
            raise UsageError("the template is empty: write it in the cell under %%message --map DATA")
        params = opts.request_params(args, ns, args.model or s.model, s.max_tokens)
        result = run_map(data, template, client=s.client(args.profile), concurrency=args.concurrency,
                         dry_run=args.dry_run, **params, **opts.call_options(args, ns))
        if args.out:
            ns[args.out] = result
            return None
        return result

    def _plan(self, args: Any, prompt: str, ns: dict[str, Any], chat: str) -> opts.Plan:
        s = session()
        text, warnings = opts.prompt_text(prompt.strip("\n").rstrip(), ns, args.no_vars)
        content = opts.user_content(text, opts.attachments(args.attach, ns))
        if not content or (isinstance(content, str) and not content.strip()):
            raise UsageError("the prompt is empty: write it in the cell under %%message (or after %message)")
        params = opts.request_params(args, ns, s.model, s.max_tokens)
        return opts.Plan(params, content, chat, profile=args.profile, stream=not args.no_stream, raw=args.raw,
                         out=args.out, schema=params.get("output_format"), max_rounds=args.max_rounds,
                         warnings=warnings, call_options=opts.call_options(args, ns))

    def _retry(self, args: Any, name: str, chat: Chat) -> tuple[opts.Plan, list[Any]]:
        plan = session().plans.get(name)
        trimmed = Chat(name, chat.turns)
        try:
            prompt_turn = trimmed.retry()
        except ValueError:
            raise UsageError(f"nothing to retry: the chat {name!r} has no answered prompt yet") from None
        if plan is None:
            plan = self._plan(args, "(retry)", {}, name)
        plan.content = prompt_turn["content"]
        plan.warnings = []
        return plan, trimmed.turns

    @staticmethod
    def _result(plan: opts.Plan, outcome: Any, ns: dict[str, Any]) -> Any:
        final = outcome.final
        parsed = final.parsed_output if plan.schema is not None and outcome.ok and final is not None else None
        if plan.out and final is not None:
            ns[plan.out] = parsed if parsed is not None else final
        return parsed  # None (nothing echoed) unless structured output parsed: then the object is the result


def _sent_body(client: Any, request: Request, stream: bool) -> dict[str, Any]:
    """The JSON body exactly as the client sends it to this profile."""
    sent = request.streamed() if stream else request
    return client.profile.body(sent, sent.extra_body)


def _exchange(client: Any, exchanges: list[tuple[Request, Any]], stream: bool) -> list[tuple[str, Any]]:
    """Each request body as sent to the profile, and the message that answered it."""
    out: list[tuple[str, Any]] = []
    for i, (req, message) in enumerate(exchanges, 1):
        out.append((f"request {i}", _sent_body(client, req, stream)))
        out.append((f"response {i}", message.to_dict() if message is not None else None))
    return out


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the rich display of Messages, blocks and Usage."""
    from ..formatters import register_formatters

    ipython.register_magics(MessageMagics(ipython))
    register_formatters(ipython)
