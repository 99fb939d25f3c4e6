"""nbmessages"""
