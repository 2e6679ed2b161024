"""The modes of client.py (check, auth, bench) and their shared helpers."""
