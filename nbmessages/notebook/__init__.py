"""The front ends: the renderer, the magics, the playground, chats and the turn runner they share."""
