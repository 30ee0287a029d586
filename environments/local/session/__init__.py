"""What runs inside a session: the VNC server's display and a program that reacts to keys."""
