"""The act-method table (browser/actions.py) is the one source of the act methods; no browser needed."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from thinkrun_mcp.browser.actions import ACT_METHODS, METHODS, ActMethod, check_arguments, model_methods, needs_target
from thinkrun_mcp.browser.instruction import parse_instruction
from thinkrun_mcp.browser.instruction.grammar import VERBS
from thinkrun_mcp.errors import ThinkRunError


def test_act_method_literal_lists_exactly_the_table_keys_in_order():
    assert get_args(ActMethod) == tuple(ACT_METHODS)


def test_methods_are_the_table_keys_in_order():
    assert tuple(ACT_METHODS) == METHODS


def test_a_tool_argument_typed_act_method_rejects_a_method_not_in_the_table():
    with pytest.raises(ValidationError):
        TypeAdapter(ActMethod).validate_python("explode")


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: v.words[0])
def test_every_instruction_verb_names_a_method_of_the_table(verb):
    assert verb.method in ACT_METHODS


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: v.words[0])
def test_each_verb_word_parses_to_a_method_of_the_table(verb):
    for words in verb.words:
        assert parse_instruction(f"{words} Sign in button").method in ACT_METHODS


def test_no_verb_words_belong_to_two_verbs():
    words = [w for verb in VERBS for w in verb.words]
    assert len(words) == len(set(words))


def test_model_methods_are_the_methods_the_table_marks_by_model():
    assert model_methods() == [name for name, spec in ACT_METHODS.items() if spec.by_model]


def test_model_methods_are_the_element_actions_a_model_may_choose():
    expected = {"click", "dblclick", "hover", "fill", "type", "press", "select", "check", "uncheck", "focus", "scroll"}
    assert set(model_methods()) == expected


@pytest.mark.parametrize("method", [m for m, spec in ACT_METHODS.items() if spec.value_required])
def test_a_missing_value_is_refused_with_the_table_example(method):
    ref = "e1" if ACT_METHODS[method].target == "required" else None
    with pytest.raises(ThinkRunError) as err:
        check_arguments(method, ref=ref, selector=None, value=None)
    assert (err.value.code, err.value.hint) == ("invalid_input", ACT_METHODS[method].value_example)


@pytest.mark.parametrize("method", [m for m, spec in ACT_METHODS.items() if spec.target == "none"])
def test_a_method_without_a_target_refuses_a_ref(method):
    with pytest.raises(ThinkRunError, match="takes no ref or selector"):
        check_arguments(method, ref="e1", selector=None, value="1")


@pytest.mark.parametrize("method", METHODS)
def test_needs_target_is_true_exactly_for_methods_whose_target_is_required(method):
    assert needs_target(method) is (ACT_METHODS[method].target == "required")
