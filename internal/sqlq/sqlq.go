// Package sqlq renders identifiers and literals into SQL text. It is the only
// place in stile where a name is written into a statement: every other package
// builds SQL from the functions here.
package sqlq

import "strings"

// Ident quotes one identifier the way pgx.Identifier.Sanitize does: wrapped in
// double quotes, embedded double quotes doubled, NUL bytes dropped. It never
// fails; PostgreSQL itself rejects names that are too long or empty.
func Ident(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 2)
	b.WriteByte('"')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case 0:
		case '"':
			b.WriteString(`""`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Qualified quotes a schema-qualified name: "schema"."name".
func Qualified(schema, name string) string {
	return Ident(schema) + "." + Ident(name)
}

// Idents quotes each name and joins them with ", ".
func Idents(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = Ident(n)
	}
	return strings.Join(parts, ", ")
}

// Literal quotes a string literal with standard_conforming_strings semantics:
// single quotes doubled, NUL bytes dropped. Backslashes need no escaping in a
// standard string; Literal refuses nothing.
func Literal(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
		case '\'':
			b.WriteString("''")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// PsqlConnect renders a psql meta-command that connects to database name and
// nothing else. psql treats a bare argument that contains '=' or looks like a
// URI as a connection string, so a database named "host=evil dbname=x" could
// redirect a naive `\connect "…"`; the dbname='…' form with
// -reuse-previous=on cannot. Inside the conninfo value, backslashes and single
// quotes are backslash-escaped; psql's own double-quoted argument then doubles
// double quotes. See https://www.postgresql.org/docs/current/app-psql.html
// (\connect) and libpq's "Connection Strings".
func PsqlConnect(name string) string {
	var v strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case 0:
		case '\\', '\'':
			v.WriteByte('\\')
			v.WriteByte(c)
		default:
			v.WriteByte(c)
		}
	}
	arg := "dbname='" + v.String() + "'"
	return `\connect -reuse-previous=on "` + strings.ReplaceAll(arg, `"`, `""`) + `"`
}

// Routine renders a routine's identity for GRANT … ON ROUTINE. args is the
// server's own pg_get_function_identity_arguments() text, in which PostgreSQL
// has already quoted every name it holds.
func Routine(schema, name, args string) string {
	return Qualified(schema, name) + "(" + args + ")"
}
