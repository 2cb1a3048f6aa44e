import { useEffect, useState } from 'react';

// Light and dark themes: the system's choice until the user picks one, which is remembered.

type Theme = 'light' | 'dark';
const KEY = 'atoll.theme';

function initialTheme(): Theme {
  const saved = localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => {
    document.documentElement.dataset['theme'] = theme;
  }, [theme]);
  const next: Theme = theme === 'dark' ? 'light' : 'dark';
  return (
    <button type="button" aria-label={`Switch to the ${next} theme`} onClick={() => {
      localStorage.setItem(KEY, next);
      setTheme(next);
    }}>
      {theme === 'dark' ? 'Light' : 'Dark'} theme
    </button>
  );
}
