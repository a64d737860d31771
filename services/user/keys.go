package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/todo-platform/todo/pkg/keyring"
)

// keys runs `user-service keys ACTION` on DATA_KEYRING_FILE:
//
//   - rotate adds a new primary key (creating the file when it does not
//     exist); serving processes pick it up on their next write;
//   - reencrypt seals, in batches of KEYS_BATCH_SIZE and while the service
//     runs, every full name that is in clear text or under an older key, and
//     reports how many are left (0: the old keys may go);
//   - decrypt writes every full name back in clear text (before migrate
//     down);
//   - prune removes the keys other than the primary, refusing while a name
//     still needs one.
func keys(ctx context.Context, log *slog.Logger, cfg config, action string, out io.Writer) error {
	switch action {
	case "rotate":
		if cfg.DataKeyringFile == "" {
			return fmt.Errorf("configuration: keys rotate needs DATA_KEYRING_FILE")
		}
		made, err := keyring.Create(cfg.DataKeyringFile)
		if err != nil {
			return fmt.Errorf("DATA_KEYRING_FILE: %w", err)
		}
		if made {
			fmt.Fprintf(out, "created keyring %s with one key\n", cfg.DataKeyringFile)
			return nil
		}
		id, err := keyring.Rotate(cfg.DataKeyringFile)
		if err != nil {
			return fmt.Errorf("DATA_KEYRING_FILE: %w", err)
		}
		fmt.Fprintf(out, "new primary key %d; run keys reencrypt, then keys prune\n", id)
		return nil
	case "reencrypt", "decrypt":
		db, store, err := openStore(ctx, cfg, false)
		if err != nil {
			return err
		}
		defer db.Close()
		total := 0
		for {
			n, err := store.ReencryptNames(ctx, cfg.KeysBatchSize, action == "decrypt")
			if err != nil {
				return fmt.Errorf("keys %s after %d rows: %w", action, total, err)
			}
			if n == 0 {
				break
			}
			total += n
			log.InfoContext(ctx, "keys "+action, slog.Int("rows", total))
		}
		if action == "decrypt" {
			fmt.Fprintf(out, "decrypted %d names\n", total)
			return nil
		}
		left, err := store.NamesToReencrypt(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "re-encrypted %d names; %d left\n", total, left)
		return nil
	case "prune":
		db, store, err := openStore(ctx, cfg, false)
		if err != nil {
			return err
		}
		defer db.Close()
		left, err := store.NamesToReencrypt(ctx)
		if err != nil {
			return err
		}
		if left > 0 {
			return fmt.Errorf("keys prune: %d names are not under the primary key yet; run keys reencrypt first", left)
		}
		n, err := keyring.Prune(cfg.DataKeyringFile)
		if err != nil {
			return fmt.Errorf("DATA_KEYRING_FILE: %w", err)
		}
		fmt.Fprintf(out, "removed %d old keys\n", n)
		return nil
	default:
		return fmt.Errorf("keys %q: want rotate, reencrypt, decrypt or prune", action)
	}
}
