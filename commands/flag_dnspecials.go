package commands

import "github.com/urfave/cli/v2"

const allowDNSpecialsFlagName = "allow-dn-specials"

// allowDNSpecialsFlag: client issue and client sign refuse a CN holding
// a DN metacharacter unless told (pkix.CheckCNSpecials says why).
func allowDNSpecialsFlag() cli.Flag {
	return &cli.BoolFlag{Name: allowDNSpecialsFlagName, Usage: `accept a CN holding DN metacharacters (, + ; < > = " \ # /), which a rule matching the subject DN as text can misread`}
}
