"""Built-in DAW-side plugins, installed as ``cwrnn_audio_plugins``.

They are registered through the ``cwrnn_audio.plugins`` entry-point group in
``pyproject.toml``, the same way a third-party package adds its own. The
plugin API and the built-ins (generator, effect, MIDI continuator) arrive
with the plugin issue; nothing is registered yet.
"""
