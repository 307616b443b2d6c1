"""Issue 10, masking and the length cap, as an attacker (or a careless user) does it,
on the real bot (Rasa with the trained model + action server, SQLite tracker
store, debug log):

* a 1 MB message over socket.io, and one over REST, while another user chats:
  the other user's reply comes no more than a second later than usual (the old
  quadratic masking blocked the Rasa process for half an hour);
* every form of a code or personnummer the review found unmasked, over REST and
  socket.io, in the text and in the message metadata: none of it in the tracker
  store or the debug log;
* a message over 2 000 characters is answered with a short Swedish message and
  never processed or stored.

Run with the stack lock: ``flock /tmp/siths-stack.lock .venv/bin/python -m pytest
tests/security/test_masking.py``."""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx
import pytest
import socketio

from bot.masking import MAX_MESSAGE_CHARS
from tests.bot.responses import rendered
from tests.support.local_stack import BotServer, bot_stack

pytestmark = pytest.mark.stack

QUESTION = "Vad kostar en ny PUK-kod?"
EXTRA_DELAY = 1.0  # issue 10: "does not delay another user's reply by more than a second"
# What hurt the old `\w*kod\w*`: one very long word containing "kod", and a digit.
HUGE = ("kod" * 340_000)[:990_000] + " 7"  # under engine.io's 1 MB packet limit


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Iterator[BotServer]:
    with bot_stack(tmp_path_factory.mktemp("masking")) as server:
        yield server


def stored(bot: BotServer) -> str:
    with sqlite3.connect(bot.tracker_db) as db:
        return "\n".join(r[0] for r in db.execute("SELECT data FROM events"))


def user_events(bot: BotServer, sender: str) -> List[Dict[str, Any]]:
    import json

    with sqlite3.connect(bot.tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id",
                          (sender,)).fetchall()
    return [e for e in (json.loads(r[0]) for r in rows) if e["event"] == "user"]


def rest(bot: BotServer, sender: str, message: str, metadata: Optional[dict] = None,
         timeout: float = 60) -> List[Dict[str, Any]]:
    body: Dict[str, Any] = {"sender": sender, "message": message}
    if metadata is not None:
        body["metadata"] = metadata
    reply = httpx.post(f"{bot.url}/webhooks/rest/webhook", json=body, timeout=timeout)
    reply.raise_for_status()
    return reply.json()


def timed_reply(bot: BotServer, sender: str) -> float:
    started = time.monotonic()
    answer = rest(bot, sender, QUESTION, timeout=120)
    assert "200 kr" in str(answer)
    return time.monotonic() - started


def baseline(bot: BotServer) -> float:
    return statistics.median(timed_reply(bot, f"base-{uuid.uuid4().hex[:8]}") for _ in range(3))


class SocketUser:
    """A widget-like socket.io client in its own session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = socketio.AsyncClient()
        self.replies: asyncio.Queue = asyncio.Queue()
        self.session = ""

    async def __aenter__(self) -> SocketUser:
        confirmed = asyncio.get_running_loop().create_future()
        self.client.on("bot_uttered", lambda data: self.replies.put_nowait(data))
        self.client.on("session_confirm",
                       lambda sid: confirmed.done() or confirmed.set_result(sid))
        await self.client.connect(self.url, socketio_path="/socket.io", transports=["polling"])
        await self.client.emit("session_request", {"session_id": None})
        self.session = await asyncio.wait_for(confirmed, 10)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.disconnect()

    async def say(self, message: str, metadata: Optional[dict] = None) -> None:
        data: Dict[str, Any] = {"message": message, "session_id": self.session}
        if metadata is not None:
            data["customData"] = metadata
        await self.client.emit("user_uttered", data)

    async def replies_until_quiet(self, first_timeout: float = 60, quiet: float = 2) -> List[dict]:
        got = [await asyncio.wait_for(self.replies.get(), first_timeout)]
        while True:
            try:
                got.append(await asyncio.wait_for(self.replies.get(), quiet))
            except TimeoutError:
                return got


def other_user_during(bot: BotServer, start_attack) -> Tuple[float, float]:
    """(baseline, reply time) of another user who asks a question 0.5 s after
    the attack started."""
    usual = baseline(bot)
    start_attack()
    time.sleep(0.5)
    try:
        during = timed_reply(bot, f"other-{uuid.uuid4().hex[:8]}")
    except httpx.TimeoutException:
        during = float("inf")
    print(f"other user's reply: usually {usual:.2f} s, during the attack {during:.2f} s")
    return usual, during


def test_a_1mb_socketio_message_does_not_delay_another_users_reply(bot):
    result: Dict[str, Any] = {}

    def attack() -> None:
        async def send() -> None:
            async with SocketUser(bot.url) as attacker:
                await attacker.say(HUGE)
                result["replies"] = await attacker.replies_until_quiet(first_timeout=120)

        def runner() -> None:
            try:
                asyncio.run(send())
            except Exception as exc:  # noqa: BLE001 - reported by the assertions below
                result["error"] = exc

        thread = threading.Thread(target=runner, daemon=True)
        thread.start()
        result["thread"] = thread

    usual, during = other_user_during(bot, attack)
    assert during <= usual + EXTRA_DELAY, f"usual {usual:.2f} s, during the attack {during:.2f} s"
    result["thread"].join(120)
    assert "error" not in result, result.get("error")
    assert [r.get("text") for r in result["replies"]] == [rendered("utter_message_too_long")]
    assert "kodkodkodkod" not in stored(bot)
    assert "kodkodkodkod" not in bot.log_file.read_text()


def test_a_1mb_rest_message_does_not_delay_another_users_reply(bot):
    sender = f"huge-{uuid.uuid4().hex[:8]}"
    result: Dict[str, Any] = {}

    def attack() -> None:
        def runner() -> None:
            try:
                result["reply"] = rest(bot, sender, HUGE, timeout=300)
            except Exception as exc:  # noqa: BLE001 - reported by the assertions below
                result["error"] = exc

        thread = threading.Thread(target=runner, daemon=True)
        thread.start()
        result["thread"] = thread

    usual, during = other_user_during(bot, attack)
    assert during <= usual + EXTRA_DELAY, f"usual {usual:.2f} s, during the attack {during:.2f} s"
    result["thread"].join(300)
    assert "error" not in result, result.get("error")
    assert [m.get("text") for m in result["reply"]] == [rendered("utter_message_too_long")]
    assert [e["text"] for e in user_events(bot, sender)] == ["/message_too_long"]
    assert "kodkodkodkod" not in stored(bot)
    assert "kodkodkodkod" not in bot.log_file.read_text()


def test_just_over_the_cap_is_not_processed_and_just_under_is(bot):
    sender = f"cap-{uuid.uuid4().hex[:8]}"
    over = ("Vad kostar en ny PUK-kod? min pin är 482913 " * 60)[: MAX_MESSAGE_CHARS + 1]
    assert [m.get("text") for m in rest(bot, sender, over)] == [
        rendered("utter_message_too_long")]
    under = (QUESTION + " ") * (MAX_MESSAGE_CHARS // (len(QUESTION) + 1))
    assert len(under) <= MAX_MESSAGE_CHARS
    assert "200 kr" in str(rest(bot, sender, under))
    texts = [e["text"] for e in user_events(bot, sender)]
    assert texts[0] == "/message_too_long" and texts[1].startswith(QUESTION)
    assert "482913" not in stored(bot) and "482913" not in bot.log_file.read_text()


# Each form with a secret whose digits appear nowhere else (checked raw and as
# bare digits, in the store and the log).
FORMS = {
    "spaced": "koden är 4 8 2 9 1 3",
    "dashed": "min kod 5-7-3-1-9-4",
    "code word, colon, spaced": "pinkoden: 6 2 8 4 0 7",
    "glued": "PIN7391",
    "slash": "min puk 836/294",
    "no-break space": "pin 918\u00a0274",
    "narrow no-break space": "pin 362\u202f851",
    "fullwidth digits": "pin ７４１８５２",
    "zero-width space": "pin 529\u200b631",
    "puk in three groups": "puk 2468-1357-9",
    "personnummer with dashes": "mitt personnummer 1975-03-14-2389",
    "personnummer with spaces": "pnr 1975 03 14 2389",
    "personnummer 12 digits": "197503142389",
    "personnummer 10 digits plus": "750314+2389",
    "bare 4 digits": "8264",
}


def digits_of(text: str) -> str:
    import unicodedata

    return "".join(str(unicodedata.digit(ch)) for ch in text if ch.isdigit())


def appears(digits: str, text: str) -> bool:
    """Whether ``digits`` appear as a number of their own: not inside a longer number, a
    float's decimals (a confidence 0.9982913..., a timestamp 1796127111.826452) or a hex
    id (a model or message id ...b98fed8264c...)."""
    import re

    pattern = rf"(?<![0-9a-fA-F.]){re.escape(digits)}(?![0-9a-fA-F])"
    return re.search(pattern, text) is not None


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_no_form_reaches_the_store_or_the_log_over_rest(bot, form):
    sender = f"form-{uuid.uuid4().hex[:8]}"
    rest(bot, sender, form)
    [event] = user_events(bot, sender)
    assert not any(ch.isdigit() for ch in event["text"]), event["text"]
    everything = stored(bot) + bot.log_file.read_text()
    # as typed and as bare digits, each as a number of its own: "8264" inside a timestamp
    # such as 1796127111.826452 is not the code
    assert not appears(form, everything)
    assert not appears(digits_of(form), everything)


def test_a_code_split_over_two_messages_is_masked_in_both(bot):
    sender = f"split-{uuid.uuid4().hex[:8]}"
    rest(bot, sender, "min pin är 937")
    rest(bot, sender, "264")
    assert [e["text"] for e in user_events(bot, sender)] == [
        "min pin är [dold kod]", "[dold kod]"]
    assert "är 937" not in bot.log_file.read_text()


def test_metadata_is_masked_over_rest(bot):
    sender = f"meta-{uuid.uuid4().hex[:8]}"
    metadata = {"note": "min pin är 615243", "nested": [{"pnr": "19750314-2389"}]}
    rest(bot, sender, "hej", metadata=metadata)
    [event] = user_events(bot, sender)
    assert event["metadata"]["note"] == "min pin är [dold kod]"
    assert event["metadata"]["nested"] == [{"pnr": "[dolt personnummer]"}]
    everything = stored(bot) + bot.log_file.read_text()
    assert "pin är 615243" not in everything and "19750314-2389" not in everything
    assert not appears("615243", everything)


def test_oversized_metadata_is_dropped_over_rest(bot):
    """Metadata over MAX_METADATA_BYTES of JSON is dropped, not masked (masking
    a big payload costs time in proportion to its size)."""
    sender = f"bigmeta-{uuid.uuid4().hex[:8]}"
    metadata = {"note": "min pin är 615243 " * 1000, "pnr": "19750314-2389"}
    assert "200 kr" in str(rest(bot, sender, QUESTION, metadata=metadata))
    [event] = user_events(bot, sender)
    assert "note" not in (event.get("metadata") or {})
    everything = stored(bot) + bot.log_file.read_text()
    assert not appears("615243", everything) and "19750314-2389" not in everything


def test_a_body_over_the_request_cap_is_refused(bot):
    """Sanic's default (100 MB) let one caller make Rasa read and parse a body
    of any size; bot/serve.py caps it (413, before the body is read)."""
    import json

    from bot.serve import REQUEST_MAX_BYTES

    body = json.dumps({"sender": f"huge-{uuid.uuid4().hex[:8]}", "message": "hej",
                       "metadata": {"x": "y" * REQUEST_MAX_BYTES}})
    try:
        reply = httpx.post(f"{bot.url}/webhooks/rest/webhook", content=body,
                           headers={"Content-Type": "application/json"}, timeout=60)
        status = reply.status_code
    except httpx.TransportError:  # the server may close the connection while we send
        status = 413
    assert status == 413
    assert "200 kr" in str(rest(bot, f"after-{uuid.uuid4().hex[:8]}", QUESTION))


def test_forms_and_metadata_are_masked_over_socketio(bot):
    async def talk() -> str:
        async with SocketUser(bot.url) as user:
            await user.say("min kod 7 1 9 3 5 2", metadata={"note": "puk 3141-5926-5"})
            await user.replies_until_quiet()
            await user.say("4 0 6 8")
            await user.replies_until_quiet()
            return user.session

    asyncio.run(talk())
    everything = stored(bot) + bot.log_file.read_text()
    for secret in ("7 1 9 3 5 2", "3141-5926-5", "4 0 6 8"):
        assert secret not in everything, secret
    for digits in ("719352", "314159265"):
        assert not appears(digits, everything), digits
    import json

    with sqlite3.connect(bot.tracker_db) as db:
        events = [json.loads(r[0]) for r in db.execute("SELECT data FROM events")]
    texts = [e["text"] for e in events if e["event"] == "user"]
    assert "min kod [dold kod]" in texts and "[dold kod]" in texts
