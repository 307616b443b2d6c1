"""The service desk's triage page (``make triage-web``, docs/triage.md): search what a
caller says, read out the bot's answer, copy it or a ticket note, and look up a chat
conversation by its chat reference. A small Sanic service next to the bot: loopback and a
token by default, behind the region's sign-in in production."""
