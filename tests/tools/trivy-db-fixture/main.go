// Command trivy-db-fixture writes a tiny offline Trivy vulnerability database for the tests:
// one Alpine 3.22 advisory, CVE-2099-0001 on the source package testpkg (fixed in 1.0.0-r1,
// severity HIGH), in the bbolt layout of trivy-db (schema 2) that Trivy v0.74.0 reads with
// --skip-db-update: <cache>/db/trivy.db and <cache>/db/metadata.json.
//
// Usage: trivy-db-fixture <trivy cache dir>
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// put stores value as JSON under key in the bucket path (created as needed).
func put(tx *bolt.Tx, path []string, key string, value any) error {
	bucket, err := tx.CreateBucketIfNotExists([]byte(path[0]))
	if err != nil {
		return err
	}
	for _, name := range path[1:] {
		if bucket, err = bucket.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	data, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return bucket.Put([]byte(key), data)
}

func run(cache string) error {
	dir := filepath.Join(cache, "db")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "trivy.db")
	_ = os.Remove(path)
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		// trivy-db pkg/vulnsrc/bucket: "alpine <major.minor>" -> source package -> advisory.
		if err := put(tx, []string{"alpine 3.22", "testpkg"}, "CVE-2099-0001",
			map[string]any{"FixedVersion": "1.0.0-r1"}); err != nil {
			return err
		}
		// types.Vulnerability; VendorSeverity 3 = HIGH (0 UNKNOWN ... 4 CRITICAL).
		if err := put(tx, []string{"vulnerability"}, "CVE-2099-0001", map[string]any{
			"Title":          "testpkg: made-up vulnerability for the portus tests",
			"Description":    "A vulnerability that exists only in the portus test fixtures.",
			"Severity":       "HIGH",
			"VendorSeverity": map[string]int{"nvd": 3},
			"References":     []string{"https://example.invalid/CVE-2099-0001"},
		}); err != nil {
			return err
		}
		return put(tx, []string{"data-source"}, "alpine 3.22", map[string]string{
			"ID": "alpine", "Name": "Alpine Secdb", "URL": "https://secdb.alpinelinux.org/",
		})
	})
	if closeErr := db.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	// trivy-db pkg/metadata: Go field names; Version must be 2 (the schema Trivy expects).
	metadata, err := json.Marshal(map[string]any{
		"Version":      2,
		"NextUpdate":   "2099-01-01T00:00:00Z",
		"UpdatedAt":    "2026-01-01T00:00:00Z",
		"DownloadedAt": "2026-01-01T00:00:00Z",
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "metadata.json"), metadata, 0o644)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: trivy-db-fixture <trivy cache dir>")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "trivy-db-fixture:", err)
		os.Exit(1)
	}
}
