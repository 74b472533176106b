"""Audio: library lookup, engines, build, recordings, status, its CLI and the /audio/ route."""
