"""Step forms and screens of the wizard."""
