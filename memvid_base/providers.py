"""LangChain chat models for ``--provider`` names, each from its optional package."""

from __future__ import annotations

import importlib
import os
from typing import Any

from .errors import InvalidInputError

# provider -> (module, class, API-key environment variable or None, default model, pip extra)
PROVIDERS: dict[str, tuple[str, str, str | None, str, str]] = {
    "openai": ("langchain_openai", "ChatOpenAI", "OPENAI_API_KEY", "gpt-4o-mini", "openai"),
    "anthropic": ("langchain_anthropic", "ChatAnthropic", "ANTHROPIC_API_KEY", "claude-3-5-haiku-latest", "anthropic"),
    "google": ("langchain_google_genai", "ChatGoogleGenerativeAI", "GOOGLE_API_KEY", "gemini-1.5-flash", "google"),
    "ollama": ("langchain_ollama", "ChatOllama", None, "llama3.2", "ollama"),
}


def create_chat_model(provider: str, model: str | None = None, api_key: str | None = None, timeout: float = 60) -> Any:
    """Build the LangChain chat model for ``provider``; a missing package or key is a clear error.

    Every model gets a request ``timeout`` (seconds) and at most one retry, so a chat never hangs.
    """
    name = provider.lower()
    if name not in PROVIDERS:
        raise InvalidInputError(f"Unknown provider {provider!r}. Use one of: none, {', '.join(PROVIDERS)}.")
    module_name, cls_name, env, default_model, extra = PROVIDERS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(
            f"Provider {name!r} needs the {module_name.replace('_', '-')} package: pip install 'memvid-rag[{extra}]'."
        ) from exc
    key = api_key or (os.environ.get(env) if env else None)
    if env and not key:
        raise InvalidInputError(f"Provider {name!r} needs an API key: set {env} or pass api_key=. Or use --provider none.")
    kwargs: dict[str, Any] = {"model": model or default_model}
    if env:
        kwargs["api_key"] = key
    if name == "ollama":
        # A local server: the timeout goes to its httpx client, so a stalled server cannot hang a chat.
        kwargs["client_kwargs"] = {"timeout": timeout}
    else:
        kwargs["timeout"] = timeout
        kwargs["max_retries"] = 1  # Google's default of 6 retries would keep a user waiting for minutes
    try:
        return getattr(module, cls_name)(**kwargs)
    except Exception as exc:  # pydantic validation of a bad model name or key format
        raise InvalidInputError(f"Could not set up provider {name!r}: {exc}") from exc
