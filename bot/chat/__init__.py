"""What both chat platforms share: commands, mention tokens, neutral texts, charts, limits."""
