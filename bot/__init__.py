"""The SITHS helpdesk bot's own Python: Rasa components, channels, NLG and tools."""
