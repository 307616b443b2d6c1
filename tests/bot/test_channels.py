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
    assert [m["text"] for m in sent] == [CODE_NOTICE]


def test_ordinary_messages_pass_unchanged_without_warning():
    received, sent = run("Vad kostar en PUK-kod?")
    assert received == ["Vad kostar en PUK-kod?"]
    assert sent == []
