"""Reports: gate rows and outcomes rendered as JSON, Markdown and terminal lines."""
