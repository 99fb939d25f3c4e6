"""Prompt templating: fills references to defined variables, never breaks JSON, code or LaTeX."""

from __future__ import annotations

import json

import pytest

from nbmessages.request.templating import fill


class Person:
    name = "Ada"
    _secret = "hidden"

    def __init__(self) -> None:
        self.langs = ["en", "fr"]


NS = {"x": 3, "pi": 3.14159, "person": Person(), "data": {"k": [1, 2], "a b": 5}, "a": 1, "b": 2, "name": "N"}


def test_names_attributes_and_keys_are_filled():
    out = fill("{x} {person.name} {person.langs[1]} {data[k][0]} {data['k']} {data[\"k\"]}", NS)
    assert out.text == "3 Ada fr 1 [1, 2] [1, 2]" and out.warning() is None


def test_conversion_and_format_spec():
    assert fill("{pi:.2f} {name!r}", NS).text == "3.14 'N'"


@pytest.mark.parametrize("prompt", [
    '{"name": "Ada", "tags": ["a", "b"], "nested": {"x": {"y": 1}}}',
    '[{"a":{"b":{}}}]',
    '{"x":1}',
])
def test_json_is_sent_unchanged(prompt):
    out = fill(prompt, NS)
    assert out.text == prompt and out.warning() is None
    json.loads(out.text)


def test_python_code_with_dicts_sets_and_fstrings():
    code = (
        "def f(items):\n"
        "    counts = {k: len(v) for k, v in items.items()}\n"
        "    seen = {1, 2}\n"
        "    return f\"{len(counts)} keys: {counts!r:>10}\"\n"
    )
    out = fill(code, {})
    assert out.text == code
    assert "{counts!r:>10}" in out.warning()  # an undefined reference is named, once, on one line
    assert out.warning().count("\n") == 0


def test_latex_arguments_are_never_filled():
    latex = r"\frac{a}{b} + x^{a} + y_{b} + \mathbf{x} + \sqrt{name}"
    out = fill(latex, NS)
    assert out.text == latex and out.warning() is None


def test_shell_and_template_syntax_is_left_alone():
    text = "echo ${HOME}; jobs: ${{ github.ref }}"
    assert fill(text, NS).text == text


def test_undefined_name_is_sent_unchanged_with_a_warning():
    out = fill("Hello {nobody} and {x}", NS)
    assert out.text == "Hello {nobody} and 3"
    assert out.warning() == ("nbmessages: not defined: {nobody}; sent unchanged "
                             "(write {{x}} for a literal {x}, or use --no-vars)")


def test_failed_attribute_or_key_is_unchanged():
    out = fill("{person.age} {data[zz]} {x[0]}", NS)
    assert out.text == "{person.age} {data[zz]} {x[0]}"
    assert "could not be filled: {person.age}, {data[zz]}, {x[0]}" in out.warning()


def test_double_braces_are_literal():
    out = fill("{{x}} is written literally, {x} is filled; {{\"a\": 1}}", NS)
    assert out.text == "{x} is written literally, 3 is filled; {\"a\": 1}"


def test_nothing_is_evaluated():
    hostile = "{__import__('os').system('echo hi')} {person._secret} {person.__class__} {x.__class__.__mro__}"
    out = fill(hostile, NS)
    assert out.text == hostile  # private names and calls are not references


def test_whitespace_inside_braces_is_prose():
    assert fill("{ x }", NS).text == "{ x }"


def test_an_empty_value_fills_in_as_empty_not_as_the_reference():
    assert fill("[{x}]", {"x": ""}).text == "[]"
