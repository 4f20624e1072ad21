//! A small shell-style glob matcher for the builder's exclude patterns: `*`, `?`, `[abc]`,
//! `[a-z]`, `[!abc]`; `*` and `?` do not match `/`.

/// Whether the shell-style `pattern` (`*`, `?`, `[abc]`, `[a-z]`, `[!abc]`; `*` and `?` do not
/// match `/`) matches a file: its last component (`*.mkv`) or its whole path joined with `/`
/// (`Season 1/*`). The rule of `bt make --exclude` and of `bt download --only`/`--skip`.
///
/// ```
/// use torrentkit_metainfo::glob_matches_path;
///
/// let path = ["show".to_string(), "s01e01.mkv".to_string()];
/// assert!(glob_matches_path("*.mkv", &path));
/// assert!(glob_matches_path("show/*", &path));
/// assert!(!glob_matches_path("*.srt", &path));
/// ```
pub fn glob_matches_path(pattern: &str, path: &[String]) -> bool {
    let name = path.last().map(String::as_str).unwrap_or("");
    matches(pattern, name) || matches(pattern, &path.join("/"))
}

/// True when `pattern` matches all of `text`.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' if t[ti] != '/' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] && c != '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) if t[st] != '/' => {
                star = Some((sp, st + 1));
                pi = sp + 1;
                ti = st + 1;
            }
            _ => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`; returns whether it matched and
/// the index after the class, or `None` when the class is not closed (then `[` is literal).
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate && c != '/', i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            matched |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            matched |= p[i] == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("*.txt", "a.txt"));
        assert!(!matches("*.txt", "dir/a.txt"));
        assert!(matches("*/*.txt", "dir/a.txt"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "a/c"));
        assert!(matches("[ab]x", "bx"));
        assert!(!matches("[!ab]x", "bx"));
        assert!(matches("[a-c]*", "core"));
        assert!(matches("*", ""));
        assert!(!matches("a", "ab"));
        assert!(matches("*.tmp*", "x.tmp~"));
        assert!(matches("[x", "[x"));
        assert!(matches("Thumbs.db", "Thumbs.db"));
    }
}
