"""The channel: voice and SMS webhooks, TwiML, signatures, the REST client, the local sandbox
and the simulated phone. It only translates between Twilio and the engine.
"""
