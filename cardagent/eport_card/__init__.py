"""The e-port IC card on a user's PC, and the tools to make one for development.

    eport_card.agent      what a user runs beside the card reader (eport-card-agent): card access
                          over PC/SC, the local mode the web console talks to, the gateway client
    eport_card.emulator   a virtual card plugged into pcscd's vpcd reader (eport-card-emulator)
    eport_card.devca      a development card CA: card images, revocation lists (eport-devca)
    eport_card.apdu       the card's APDU vocabulary (APDU.md), spoken by the agent and the emulator
    eport_card.cardimage  the card image file the CA writes and the emulator plays
    eport_card.certificate  the card certificate's layout, which the card service reads too

A distribution of its own (cardagent/pyproject.toml): it needs pyscard, cryptography and requests,
never the platform; the platform's card service imports only `certificate` (and, in development,
`devca` to make its embedded CA).
"""
