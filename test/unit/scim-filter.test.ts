// SCIM filters to MongoDB queries (src/scim/filter.ts), without a server: what an
// index serves is translated, everything else is refused with invalidFilter, and
// nothing a client sends reaches the query as an operator or an unescaped regex.
import { expect } from 'chai';
import { filterToQuery, parseFilter } from '../../src/scim/filter.ts';
import { USER_FILTER_FIELDS } from '../../src/scim/users.ts';
import { GROUP_FILTER_FIELDS } from '../../src/scim/groups.ts';
import { ScimError } from '../../src/scim/errors.ts';
import { URN } from '../../src/scim/schemas.ts';

const users = (filter: string) => filterToQuery(parseFilter(filter), USER_FILTER_FIELDS, URN.user);
const groups = (filter: string) => filterToQuery(parseFilter(filter), GROUP_FILTER_FIELDS, URN.group);

function refused(run: () => unknown, scimType = 'invalidFilter'): ScimError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(ScimError);
    expect((error as ScimError).status).to.equal(400);
    expect((error as ScimError).scimType).to.equal(scimType);
    return error as ScimError;
  }
  throw new Error('expected a refusal');
}

describe('SCIM filters as MongoDB queries', () => {
  it('translates what directories send to indexed fields', () => {
    expect(users('userName eq "Grace@Example.com"')).to.deep.equal({ emailNormalized: 'grace@example.com' });
    expect(users(`${URN.user}:userName eq "a@b.c"`)).to.deep.equal({ emailNormalized: 'a@b.c' });
    expect(users('USERNAME Eq "a@b.c"')).to.deep.equal({ emailNormalized: 'a@b.c' });
    expect(users('externalId eq "AbC-1"')).to.deep.equal({ externalId: 'AbC-1' });
    expect(users('emails[value eq "a@b.c"]')).to.deep.equal({ emailNormalized: 'a@b.c' });
    expect(users('emails.value sw "a"')).to.deep.equal({ emailNormalized: { $regex: '^a' } });
    expect(users('id eq "x"')).to.deep.equal({ _id: 'x' });
    expect(users('active eq false')).to.deep.equal({ status: 'disabled' });
    expect(users('active eq true')).to.deep.equal({ status: { $in: ['active', 'invited', 'unverified'] } });
    expect(users('externalId pr')).to.deep.equal({ externalId: { $gt: '' } });
    expect(users('userName sw "a" and (externalId eq "1" or externalId eq "2")')).to.deep.equal({
      emailNormalized: { $regex: '^a' }, $or: [{ externalId: '1' }, { externalId: '2' }],
    });
    // Conditions on different fields are one object; on the same field (or two $or) an $and.
    expect(users('active eq true and userName eq "a@b.c"')).to.deep.equal({ status: { $in: ['active', 'invited', 'unverified'] }, emailNormalized: 'a@b.c' });
    expect(users('userName sw "a" and userName co "b"')).to.deep.equal({ $and: [{ emailNormalized: { $regex: '^a' } }, { emailNormalized: { $regex: 'b' } }] });
    expect(groups('displayName eq "Engineering"')).to.deep.equal({ displayNameNormalized: 'engineering' });
    expect(groups('members[value eq "u-1"]')).to.deep.equal({ members: 'u-1' });
    expect(groups('members.value eq "u-1"')).to.deep.equal({ members: 'u-1' });
  });

  it('escapes regex characters in sw and co', () => {
    expect(users('userName co "a.b*(c)"')).to.deep.equal({ emailNormalized: { $regex: 'a\\.b\\*\\(c\\)' } });
    expect(users('userName sw "^$"')).to.deep.equal({ emailNormalized: { $regex: '^\\^\\$' } });
  });

  it('refuses malformed filters', () => {
    for (const filter of ['', 'userName', 'userName eq', 'userName eq "x" and', '(userName eq "x"', 'userName eq "x")', 'userName zz "x"', 'userName eq "x" userName', 'a'.repeat(1001)]) {
      refused(() => users(filter));
    }
  });

  it('refuses what no index serves, and values of the wrong type', () => {
    for (const filter of [
      'displayName eq "x"', 'title eq "x"', 'name.familyName eq "x"', 'meta.lastModified gt "2020-01-01T00:00:00Z"',
      'userName ne "x"', 'userName ew "x"', 'userName gt "x"', 'not (userName eq "x")', 'id sw "x"', 'active eq "true"',
      'userName eq true', 'userName eq null', 'userName eq 1', 'userName sw ""', 'emails[type eq "work"]',
    ]) refused(() => users(filter));
    refused(() => groups('members[display eq "x"]'));
    refused(() => groups('members sw "x"'));
  });

  it('bounds the size and depth of a filter', () => {
    const many = Array.from({ length: 21 }, (_, i) => `externalId eq "${i}"`).join(' or ');
    refused(() => users(many));
    const deep = `${'('.repeat(10)}userName eq "x"${')'.repeat(10)}`;
    expect(users(deep)).to.deep.equal({ emailNormalized: 'x' });
    const nested = Array.from({ length: 10 }, () => 'userName eq "x" and (').join('') + 'userName eq "x"' + ')'.repeat(10);
    refused(() => users(nested));
  });
});
