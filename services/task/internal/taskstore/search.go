package taskstore

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/todo-platform/todo/pkg/pgdb"
	"github.com/todo-platform/todo/services/task/internal/task"
)

// DefaultSearchConfig is the text search configuration of a Store made
// without WithSearchConfig: the one idx_tasks_search (task migration 00008)
// is built for.
const DefaultSearchConfig = "simple"

// searchConfigName is what a text search configuration name may be: a
// lower-case identifier, which WithSearchConfig writes into the SQL as a
// literal (the document expression must be the index's, constant, for the
// planner to use the index, so it cannot be a parameter).
var searchConfigName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ValidSearchConfig reports whether name can name a text search
// configuration for WithSearchConfig. Whether the database has it is
// CheckSearch's question.
func ValidSearchConfig(name string) bool { return searchConfigName.MatchString(name) }

// Option configures a Store.
type Option func(*Store)

// WithSearchConfig makes searches match words in the text search
// configuration name (english, german, …). Only 'simple' has an index
// from the migrations; for another configuration the index of
// docs/search.md must be made, or searches read every row they may see.
// It panics when ValidSearchConfig(name) is false: the service's
// configuration checks the name first.
func WithSearchConfig(name string) Option {
	return func(s *Store) {
		if !ValidSearchConfig(name) {
			panic(fmt.Sprintf("taskstore: invalid text search configuration name %q", name))
		}
		s.searchConfig = name
	}
}

// The fragments of a search (see listQuery): the document of a task in the
// store's configuration (written in place of %[1]s), the query, its match
// and its rank. A query whose last word is a prefix combines the head,
// matched in web-search syntax, with the prefix; ParseSearch made sure the
// prefix is letters and digits only, so that ':*' makes it a prefix query.
const (
	searchDocument   = `task_document('%[1]s'::regconfig, title, description)`
	searchWhole      = `websearch_to_tsquery('%[1]s'::regconfig, @search_head::text)`
	searchWithPrefix = `(websearch_to_tsquery('%[1]s'::regconfig, @search_head::text) && to_tsquery('%[1]s'::regconfig, @search_prefix::text || ':*'))`
	searchMatch      = `%[2]s @@ %[3]s`
	// searchRank is ts_rank's default (words matched, weighted A for the
	// title, B for the description) as a real, the type the cursor keeps.
	searchRank = `ts_rank(%[2]s, %[3]s)`
	// searchCheckSQL tells whether the query has a word to find: not empty
	// after stop words are dropped (numnode), and not only excluded words,
	// which no index can answer (querytree 'T').
	searchCheckSQL = `SELECT numnode(q) > 0 AND querytree(q) <> 'T' FROM (SELECT %[3]s AS q) AS s`
)

// searchSQL fills a search fragment for configuration config.
func searchSQL(fragment, config string, search *task.Search) string {
	doc := fmt.Sprintf(searchDocument, config)
	query := searchWhole
	if search.Prefix != "" {
		query = searchWithPrefix
	}
	return fmt.Sprintf(fragment, config, doc, fmt.Sprintf(query, config))
}

// searchArgs adds the search's named arguments to args.
func searchArgs(args pgx.NamedArgs, search *task.Search) {
	args["search_head"] = search.Head
	args["search_prefix"] = search.Prefix
}

// scanRankedTasks is scanTasks for the rows of a listing by relevance,
// which end in the task's rank.
func scanRankedTasks(row pgx.CollectableRow) (task.Task, error) {
	var r taskRow
	var rank float32
	if err := row.Scan(append(r.dest(), &rank)...); err != nil {
		return task.Task{}, err
	}
	t := r.toDomain()
	t.Relevance = rank
	return t, nil
}

// CheckSearch reports whether the database has the store's text search
// configuration (an error when it has not) and whether task has an index
// on its documents in that configuration (false: searches read every row
// they may see). The service calls it at start.
func (s *Store) CheckSearch(ctx context.Context) (indexed bool, err error) {
	const checkSQL = `
SELECT EXISTS (SELECT FROM pg_ts_config WHERE cfgname = @config::text),
       EXISTS (SELECT FROM pg_index i
               WHERE i.indrelid = 'task'::regclass
                 AND pg_get_indexdef(i.indexrelid) LIKE '%USING gin (task_document(''' || @config::text || '''::regconfig, title, description))%')`
	var exists bool
	err = s.db.Send(ctx, pgdb.RetrySafe, nil, func(b *pgx.Batch) {
		b.Queue(checkSQL, pgx.NamedArgs{"config": s.searchConfig})
	}, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&exists, &indexed) })
	if err != nil {
		return false, fmt.Errorf("taskstore check search configuration: %w", err)
	}
	if !exists {
		return false, fmt.Errorf("taskstore: the database has no text search configuration %q", s.searchConfig)
	}
	return indexed, nil
}
