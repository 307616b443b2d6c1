"""Developer tools beside the agent, never shipped in it: a test PKI that mimics SITHS
(all CA names carry ``TEST``), SoftHSM2 fixture cards, a vpcd card emulator and the
``make demo-card`` command.

Never use these on a real workstation's card: they only create SoftHSM2 tokens in a private
folder and an emulated card in the virtual reader of vsmartcard-vpcd.
"""
