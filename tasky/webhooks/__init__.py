"""Webhooks: what a delivery sends (``signing``) and how one attempt goes out (``sender``)."""
