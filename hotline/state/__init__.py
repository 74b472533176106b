"""What Redis holds about people: the embedded server, SMS state and language preferences,
privacy (encryption, keyed hashes), erasure.
"""
