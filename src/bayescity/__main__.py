"""``python -m bayescity`` runs the command line."""

from .cli import app

app(prog_name="bayescity")
