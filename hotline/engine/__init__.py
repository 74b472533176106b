"""Pure flows: the voice menu, the callback conversation, SMS replies.

No I/O here: no Flask, Twilio, Redis or RQ. The channel (hotline.twilio) drives these.
"""
