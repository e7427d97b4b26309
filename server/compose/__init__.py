"""The composition root: the only package that knows every layer.

- `config`: settings → each area's config object (areas never read settings themselves);
- `services`: the typed `Managers` / `Services` dataclasses (every field required);
- `build`: `open_services(settings)` connects and builds everything, once per process;
- `providers`: Litestar `Provide`s handing each controller its own manager;
- `voice`: the LiveKit voice worker's entry (`python -m server.compose.voice start`).

The api (`server/app.py`), the SAQ worker, the CLI and the voice worker all start here.
"""
