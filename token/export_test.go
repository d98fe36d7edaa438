package token

// CachedTokens reports how many verified tokens k's cache holds, for the
// tests of the cache.
func (k *Keyring) CachedTokens() int { return k.cache.len() }
