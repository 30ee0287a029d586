"""The ``compose`` environment: the reference stack as containers from one compose file.

- :mod:`environments.compose.images` -- the platform image, built locally (mmdebstrap + the kit's
  own Python packages and code; nothing is pulled);
- :mod:`environments.compose.stack`  -- brings the compose project up and down with a compose
  tool against the container engine, and reads its topology from the engine.
"""
