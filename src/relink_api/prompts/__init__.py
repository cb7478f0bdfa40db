"""Prompting customers: the events a link's changes raise, reminders on a schedule, and
the funnel that says whether prompts repair links."""
