package task

import (
	"errors"
	"testing"
)

func TestParseSearch_LastWordBeingTypedIsThePrefix(t *testing.T) {
	for _, tc := range []struct {
		q, head, prefix string
	}{
		{"plan sp", "plan ", "sp"},
		{"  plan", "", "plan"},
		{"plan sp ", "plan sp ", ""},
		{"Ünïcode wör", "Ünïcode ", "wör"},
		{`"plan sp`, `"plan sp`, ""},
		{`"plan" sp`, `"plan" `, "sp"},
		{"plan -sp", "plan -sp", ""},
		{"plan or", "plan or", ""},
		{"plan OR sp", "plan OR sp", ""},
		{"plan sp!", "plan sp!", ""},
		{"re:sp", "re:sp", ""},
	} {
		s, err := ParseSearch(tc.q)
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		if s.Head != tc.head || s.Prefix != tc.prefix {
			t.Errorf("%q: head %q prefix %q, want %q %q", tc.q, s.Head, s.Prefix, tc.head, tc.prefix)
		}
	}
	for _, q := range []string{"", " ", "\t\n"} {
		if _, err := ParseSearch(q); !errors.Is(err, ErrEmptySearch) {
			t.Errorf("%q: got %v, want ErrEmptySearch", q, err)
		}
	}
}

func TestParseOrder_Relevance(t *testing.T) {
	for _, s := range []string{"relevance", "relevance desc", "relevance DESC"} {
		if o, err := ParseOrder(s); err != nil || o != (Order{Key: SortRelevance, Desc: true}) {
			t.Errorf("%q: %v, %v", s, o, err)
		}
	}
	if _, err := ParseOrder("relevance asc"); !errors.Is(err, ErrInvalidOrder) {
		t.Errorf("relevance asc: %v, want ErrInvalidOrder", err)
	}
}

func TestPageToken_RelevanceCursorRoundTrips(t *testing.T) {
	q := "plan"
	f := Filter{Search: &Search{Query: q, Head: "", Prefix: q}}
	o := Order{Key: SortRelevance, Desc: true}
	c := Cursor{ID: 42, Score: 0.0607927}
	got, err := DecodePageToken(EncodePageToken(f, o, c), f, o)
	if err != nil || got != c {
		t.Fatalf("got %+v, %v; want %+v", got, err, c)
	}
	other := Filter{Search: &Search{Query: "plans"}}
	if _, err := DecodePageToken(EncodePageToken(f, o, c), other, o); !errors.Is(err, ErrInvalidPageToken) {
		t.Errorf("token for another query: %v, want ErrInvalidPageToken", err)
	}
}
