import asyncio
import os
import time

import jwt
import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels import masking_handler
from bot.domain_texts import code_notice
from bot.doors import DoorPolicy, allowed_origins, ensure_secret_file, load_secret
from bot.sign_in import JwtCheck, SessionSigner, subject_tag


def run(text: str):
    received = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message.text)

    out = CollectingOutputChannel()
    asyncio.run(masking_handler(on_new_message)(UserMessage(text, out, "u1")))
    return received, out.messages


def test_rasa_only_gets_the_masked_text_and_the_user_is_warned():
    received, sent = run("min pin är 654321")
    assert received == ["min pin är [dold kod]"]
    assert [m["text"] for m in sent][0] == code_notice()


def test_ordinary_messages_pass_unchanged_without_warning():
    received, sent = run("Vad kostar en PUK-kod?")
    assert received == ["Vad kostar en PUK-kod?"]
    assert code_notice() not in [m["text"] for m in sent]


def test_a_turn_that_produced_nothing_gets_an_honest_notice():
    from bot.domain_texts import silence_notice
    from bot.site_config import load_site_config

    received, sent = run("Kan du kontrollera mitt kort?")
    assert received == ["Kan du kontrollera mitt kort?"]
    # The channel sends the notice's paragraphs as separate messages.
    assert "\n\n".join(m["text"] for m in sent) == silence_notice()
    assert load_site_config().servicecenter.phone in silence_notice()


def test_a_turn_with_an_answer_gets_no_extra_notice():
    async def answering(message: UserMessage) -> None:
        await message.output_channel.send_response(message.sender_id, {"text": "Svar"})

    out = CollectingOutputChannel()
    asyncio.run(masking_handler(answering)(UserMessage("hej", out, "u1")))
    assert [m["text"] for m in out.messages] == ["Svar"]


def handled_metadata(metadata):
    received = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message.metadata)

    out = CollectingOutputChannel()
    asyncio.run(masking_handler(on_new_message)(UserMessage("hej", out, "u1", metadata=metadata)))
    return received[0]


def test_oversized_metadata_is_dropped_before_masking(monkeypatch, caplog):
    import bot.channels as channels
    from bot.masking import MAX_METADATA_BYTES

    masked = []
    real = channels.mask_payload
    monkeypatch.setattr(channels, "mask_payload", lambda obj: masked.append(obj) or real(obj))
    secret = "min pin är 482913 "
    huge = {"note": secret * (2 * MAX_METADATA_BYTES // len(secret)), "pnr": "19800101-1234"}
    with caplog.at_level("WARNING", logger="bot.channels"):
        assert handled_metadata(huge) == {}
    assert masked == [{}]  # the big one never reached the masking
    assert "dropped the metadata" in caplog.text
    assert "482913" not in caplog.text and "19800101" not in caplog.text
    deep = {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    assert handled_metadata(deep) == {}


def test_small_metadata_is_kept_and_masked():
    assert handled_metadata({"note": "min pin är 482913", "id": "198001011234"}) == {
        "note": "min pin är [dold kod]", "id": "[dolt personnummer]"}
    assert handled_metadata(None) is None


# --- the doors (bot/doors.py, bot/channels.py, bot/serve.py) ---

WIDGET = "http://127.0.0.1:8080"
POLICY = DoorPolicy([WIDGET], {"127.0.0.1", "localhost", "::1", "chat.region.example"})


@pytest.mark.parametrize("host, origin, site, refused", [
    ("127.0.0.1:5005", None, None, None),                      # curl, Rasa, make shell
    ("localhost:5005", WIDGET, "same-site", None),             # the widget's page
    ("[::1]:5005", None, "none", None),
    ("chat.region.example", WIDGET, "cross-site", None),
    ("127.0.0.1:5005", "http://127.0.0.1:9999", "same-site", "origin_not_allowed"),
    ("127.0.0.1:5005", "null", None, "origin_not_allowed"),
    ("127.0.0.1:5005", None, "cross-site", "cross_site_request"),
    ("127.0.0.1:5005", None, "same-site", "cross_site_request"),
    ("evil.example:5005", None, None, "host_not_allowed"),     # DNS rebinding
    ("127.0.0.1.evil.example", None, None, "host_not_allowed"),
    (None, None, None, "host_not_allowed"),
])
def test_door_policy(host, origin, site, refused):
    assert POLICY.refusal(host=host, origin=origin, fetch_site=site) == refused


def test_the_action_server_refuses_every_browser_request():
    for origin, site in [(WIDGET, None), (None, "same-site"), (None, "cross-site")]:
        assert POLICY.refusal(host="127.0.0.1:5055", origin=origin, fetch_site=site,
                              allow_origin=False)
    assert POLICY.refusal(host="127.0.0.1:5055", origin=None, fetch_site=None,
                          allow_origin=False) is None


def test_allowed_origins_default_to_the_demo_page():
    assert allowed_origins({"WIDGET_PORT": "8181"}) == [
        "http://127.0.0.1:8181", "http://localhost:8181"]
    assert allowed_origins({"BOT_ALLOWED_ORIGINS": "https://intra.example/, https://b.example"}) \
        == ["https://intra.example", "https://b.example"]


def test_session_ids_are_signed_and_bound_to_the_user():
    signer = SessionSigner(b"k" * 32)
    issued = signer.issue()
    assert signer.valid(issued)
    assert not signer.valid(issued.split(".")[0] + "." + "0" * 32)
    assert not SessionSigner(b"other").valid(issued)
    alice = signer.issue(subject_tag("alice"))
    assert signer.valid(alice, subject_tag("alice"))
    assert not signer.valid(alice, subject_tag("bob")) and not signer.valid(alice)
    assert not signer.valid(42) and not signer.valid("anna")


def test_jwt_needs_signature_expiry_and_subject():
    check = JwtCheck("secret-key-of-the-intranet-32bytes", "HS256")
    later = int(time.time()) + 600
    good = jwt.encode({"sub": "alice", "exp": later}, check.key, algorithm="HS256")
    assert check.subject(good) == "alice"
    assert check.subject(jwt.encode({"sub": "alice"}, check.key, algorithm="HS256")) is None
    assert check.subject(jwt.encode({"exp": later}, check.key, algorithm="HS256")) is None
    assert check.subject(jwt.encode({"sub": "a", "exp": later}, "x" * 32, algorithm="HS256")) \
        is None
    assert check.subject(jwt.encode({"sub": "a", "exp": 1}, check.key, algorithm="HS256")) is None
    assert check.subject(jwt.encode({"sub": "a", "exp": later}, None, algorithm="none")) is None
    assert check.subject(None) is None


def test_secrets_come_from_a_user_only_file(tmp_path):
    path = ensure_secret_file(tmp_path / "secrets" / "t")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    value = path.read_text().strip()
    assert ensure_secret_file(path) == path and path.read_text().strip() == value
    assert load_secret("T", {"T_FILE": str(path)}) == value
    assert load_secret("T", {"T": "from-env", "T_FILE": str(path)}) == "from-env"
    path.chmod(0o644)
    with pytest.raises(RuntimeError):
        load_secret("T", {"T_FILE": str(path)})
    link = tmp_path / "link"
    link.symlink_to(path)
    path.chmod(0o600)
    with pytest.raises(OSError):
        load_secret("T", {"T_FILE": str(link)})


def test_serve_keeps_the_api_token_off_the_command_line(monkeypatch):
    from bot.serve import rasa_argv

    monkeypatch.setenv("RASA_API_TOKEN", "tok123")
    argv = rasa_argv(["--port", "5005"])
    assert "--enable-api" in argv and "--auth-token=tok123" in argv
    with pytest.raises(SystemExit):
        rasa_argv(["--auth-token", "x"])
    monkeypatch.delenv("RASA_API_TOKEN")
    monkeypatch.delenv("RASA_API_TOKEN_FILE", raising=False)
    assert not any(a.startswith("--auth-token") or a == "--enable-api" for a in rasa_argv([]))
    with pytest.raises(SystemExit):
        rasa_argv(["--enable-api"])
    assert os.environ.get("RASA_API_TOKEN") is None


def test_request_bodies_and_socketio_packets_are_capped(monkeypatch):
    from sanic import Sanic

    from bot.serve import REQUEST_MAX_BYTES, limit_request_size
    from bot.socketio_channel import SOCKETIO_MAX_BYTES, MaskingSocketIOInput

    env = {}
    limit_request_size(env)
    assert env == {"SANIC_REQUEST_MAX_SIZE": str(REQUEST_MAX_BYTES)}
    assert 2**20 < REQUEST_MAX_BYTES <= 2 * 2**20
    for value, kept in (("1000", True), (str(10**8), False), ("lots", False)):
        env = {"SANIC_REQUEST_MAX_SIZE": value}
        limit_request_size(env)
        assert (env["SANIC_REQUEST_MAX_SIZE"] == value) is kept
    # Sanic 21.12 reads it from the environment when Rasa creates its app.
    monkeypatch.setenv("SANIC_REQUEST_MAX_SIZE", str(REQUEST_MAX_BYTES))
    assert Sanic("cap_test", configure_logging=False).config.REQUEST_MAX_SIZE == REQUEST_MAX_BYTES
    # `make test` exports make run's secret file paths; this unit test brings its own key.
    monkeypatch.delenv("BOT_SESSION_SECRET_FILE", raising=False)
    monkeypatch.setenv("BOT_SESSION_SECRET", "unit-test-session-key")
    channel = MaskingSocketIOInput()

    async def on_new_message(message: UserMessage) -> None:
        return None

    channel.blueprint(on_new_message)
    assert channel.sio.eio.max_http_buffer_size == SOCKETIO_MAX_BYTES <= 1_000_000


def test_the_no_answer_notice_names_the_upgrade_instruction_only_while_it_can_be_done():
    import datetime as dt

    from bot.domain_texts import say, silence_notice
    from bot.site_config import load_site_config

    last_day = load_site_config().dates.upgrade_last_day
    instruction = say("utter_upgrade_yourself").split("\n\n")[0]
    assert instruction in silence_notice(last_day)
    after = silence_notice(last_day + dt.timedelta(days=1))
    assert instruction not in after and after.startswith(say("utter_notice_no_answer")[:40])


def test_a_relayed_card_answer_that_needs_no_words_gets_no_notice():
    """The widget's /cardagent_result for a check-back on a running upgrade: silence is
    right there (it is not the person asking), so no 'något gick fel' notice."""
    received, sent = run("/cardagent_result")
    assert received == ["/cardagent_result"]
    assert sent == []
    _, sent = run("/cardagent_result please")
    assert sent  # anything else that gets no answer still gets the notice
