"""Content as data: models, loading and validation of ivr_scripts/ and sms_templates/,
SMS keywords and segment costs.
"""
