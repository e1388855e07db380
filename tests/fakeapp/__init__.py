"""A small fake application whose side effects the replay tests record and replay."""
