package apply

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
)

// StateDiff renders a line diff of two states as YAML: lines only in a
// prefixed "- ", lines only in b "+ ", shared context omitted.
func StateDiff(a, b plan.State) string {
	return lineDiff(toYAML(a), toYAML(b))
}

func toYAML(s plan.State) []string {
	data, err := yaml.Marshal(s)
	if err != nil {
		return []string{"(unprintable state: " + errs.Public(nil, err) + ")"}
	}
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

// lineDiff is a longest-common-subsequence diff; states are small.
func lineDiff(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + b[j] + "\n")
			j++
		default:
			out.WriteString("- " + a[i] + "\n")
			i++
		}
	}
	return out.String()
}
