"""Chat references: readable, stable per conversation, not derivable without the key,
forgiving when read out; the reference line goes exactly on answers that point to
Servicecenter."""

from __future__ import annotations

import re

import pytest

from bot.chat_reference import (
    ChatReferences,
    normalise,
    reference_line,
    with_chat_reference,
)
from tests.bot.responses import domain

FORMAT = re.compile(r"^K-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def test_format_and_stability():
    refs = ChatReferences(b"key")
    first = refs.reference("sio-abc")
    assert FORMAT.match(first)
    assert refs.reference("sio-abc") == first
    assert refs.reference("sio-abd") != first


def test_another_key_gives_other_references():
    assert ChatReferences(b"a").reference("x") != ChatReferences(b"b").reference("x")


def test_references_spread_over_40_bits():
    refs = ChatReferences(b"key")
    made = {refs.reference(f"sio-{i}") for i in range(20_000)}
    assert len(made) == 20_000  # a collision here would mean far fewer than 40 bits


@pytest.mark.parametrize("typed", ["K-4F7Q-9XZ2", "k-4f7q-9xz2", "4F7Q9XZ2", "k 4f7q 9xz2",
                                   "K4F7Q-9XZ2", " K–4F7Q–9XZ2 "])
def test_read_out_forms_are_understood(typed):
    assert normalise(typed) == "K-4F7Q-9XZ2"


def test_letters_read_as_digits():
    assert normalise("K-OIL0-0000") == "K-0110-0000"


@pytest.mark.parametrize("typed", ["", "K-4F7Q", "hej hopp", "K-4F7Q-9XZ2-1", "K-4F7U-9XZ2",
                                   "<script>", "K" * 5000])
def test_anything_else_is_not_a_reference(typed):
    assert normalise(typed) is None


def test_the_line_goes_on_servicecenter_answers_only():
    responses = domain().responses
    line = reference_line(responses, "K-AAAA-BBBB")
    assert "K-AAAA-BBBB" in line and "{" not in line
    told = with_chat_reference("Ring oss.", "Ring {servicecenter_contact}.", responses,
                               "K-AAAA-BBBB")
    assert told == f"Ring oss.\n\n{line}"
    assert with_chat_reference("Hej!", "Hej!", responses, "K-AAAA-BBBB") == "Hej!"
