"""The shop: a catalogue of themes, avatars, banners and bundles, bought with wallet tokens."""
