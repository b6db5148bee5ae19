"""mmguard's benchmark: attack suites run around and through the proxy, judged and reported."""
