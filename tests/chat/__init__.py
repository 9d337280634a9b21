"""What people see in chat, on both platforms: typed messages, commands, conversations."""
