import asyncio

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels import CODE_NOTICE, masking_handler


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
    assert [m["text"] for m in sent][0] == CODE_NOTICE


def test_ordinary_messages_pass_unchanged_without_warning():
    received, sent = run("Vad kostar en PUK-kod?")
    assert received == ["Vad kostar en PUK-kod?"]
    assert CODE_NOTICE not in [m["text"] for m in sent]


def test_a_turn_that_produced_nothing_gets_an_honest_notice():
    from bot.channels import silence_notice
    from bot.site_config import load_site_config

    received, sent = run("Kan du kontrollera mitt kort?")
    assert received == ["Kan du kontrollera mitt kort?"]
    assert [m["text"] for m in sent] == [silence_notice()]
    assert load_site_config().servicecenter.phone in sent[0]["text"]


def test_a_turn_with_an_answer_gets_no_extra_notice():
    async def answering(message: UserMessage) -> None:
        await message.output_channel.send_response(message.sender_id, {"text": "Svar"})

    out = CollectingOutputChannel()
    asyncio.run(masking_handler(answering)(UserMessage("hej", out, "u1")))
    assert [m["text"] for m in out.messages] == ["Svar"]
