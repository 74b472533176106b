"""hotline: an SMS and voice information line on social assistance for migrants in Belgium.

The web application's factory is `hotline.app.create_app`; the folders below are the
architecture (see the README). Nothing is imported here, so that a command that needs no web
server (`hotline audio build`) starts without loading one.
"""
