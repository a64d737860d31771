package task

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Search is a full-text search of ListTasks: the tasks whose title or
// description contain the words of Query, in web-search syntax (every word,
// "a phrase", either or, -excluded). When the query ends in a word being
// typed, that word is Prefix and matches any word it begins; Head is the
// rest of the query, matched whole. Otherwise Head is the whole query and
// Prefix is empty.
type Search struct {
	Query  string
	Head   string
	Prefix string
}

// ParseSearch reads a ListTasks q. A query that is empty or only white
// space is ErrEmptySearch; whether its words leave anything to find (not
// only stop words or excluded words) is for the store to say, as that
// depends on the database's text search configuration.
func ParseSearch(q string) (Search, error) {
	q = strings.TrimLeftFunc(q, unicode.IsSpace)
	if strings.TrimSpace(q) == "" {
		return Search{}, ErrEmptySearch
	}
	s := Search{Query: q, Head: q}
	// The last word is a prefix when the query ends in it: it is a run of
	// letters and digits at the very end, preceded by white space or
	// nothing, outside quotes, neither the operator "or" nor right after
	// it (the prefix is added to the query with AND).
	start := len(q)
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(q[:start])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		start -= size
	}
	if start == len(q) {
		return s, nil
	}
	if start > 0 {
		if r, _ := utf8.DecodeLastRuneInString(q[:start]); !unicode.IsSpace(r) {
			return s, nil
		}
	}
	word := q[start:]
	before := strings.Fields(q[:start])
	if strings.Count(q[:start], `"`)%2 == 1 || strings.EqualFold(word, "or") ||
		len(before) > 0 && strings.EqualFold(before[len(before)-1], "or") {
		return s, nil
	}
	s.Head, s.Prefix = q[:start], word
	return s, nil
}
