"""The nurse navigators' web worklist (FastAPI, server-rendered Jinja pages)."""
