"""The front ends: the renderer, the magics, the playground, chats, and what they share: the turn runner
(``turns``) and the settings table (``settings``)."""
