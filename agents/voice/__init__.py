"""The voice agent: a LiveKit Agents worker (Deepgram STT/TTS, Silero VAD) whose LLM is the
LangGraph chat agent, and the token endpoint that lets a user into a server-named room."""
