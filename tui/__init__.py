"""diskwright front ends: CLI, Textual wizard, plain prompts."""
