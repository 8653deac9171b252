// PATCH operations and incoming resources (src/scim/patch.ts, resource.ts), without
// a server: the operations Entra ID and Okta send, applied to a representation, and
// what is refused with which scimType.
import { expect } from 'chai';
import { applyPatch, parsePath, readPatchRequest } from '../../src/scim/patch.ts';
import { readResource, type JsonObject } from '../../src/scim/resource.ts';
import { projectAttributes, readProjection } from '../../src/scim/projection.ts';
import { ScimError } from '../../src/scim/errors.ts';
import { GROUP_RESOURCE, URN, USER_RESOURCE } from '../../src/scim/schemas.ts';

const ops = (...operations: unknown[]) => readPatchRequest({ schemas: [URN.patch], Operations: operations });
const user = (): JsonObject => ({
  userName: 'grace@example.com',
  name: { givenName: 'Grace', familyName: 'Hopper' },
  emails: [{ value: 'grace@example.com', type: 'work', primary: true }],
  active: true,
  [URN.enterprise]: { department: 'Navy' },
});

function refusal(run: () => unknown): { status: number; scimType: string | null } {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(ScimError);
    return { status: (error as ScimError).status, scimType: (error as ScimError).scimType };
  }
  throw new Error('expected a refusal');
}

describe('SCIM PATCH', () => {
  it('applies Entra ID\'s operations: op in any case, valuePath filters, dotted keys and URNs in a value without path', () => {
    const result = applyPatch(USER_RESOURCE, user(), ops(
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'grace.hopper@example.com' },
      { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555' },
      { op: 'Replace', value: { 'name.givenName': 'Amazing Grace', [`${URN.enterprise}:department`]: 'Computing', active: 'False' } },
      { op: 'Add', path: `${URN.enterprise}:manager`, value: 'manager-id' },
      { op: 'Remove', path: `${URN.enterprise}:department` },
    ));
    expect(result.emails).to.deep.equal([{ value: 'grace.hopper@example.com', type: 'work', primary: true }]);
    expect(result.phoneNumbers).to.deep.equal([{ type: 'mobile', value: '+1 555' }]);
    expect(result.name).to.deep.equal({ givenName: 'Amazing Grace', familyName: 'Hopper' });
    expect(result.active).to.equal(false);
    expect(result[URN.enterprise]).to.deep.equal({ manager: { value: 'manager-id' } });
  });

  it('applies group membership operations: add a list (no duplicates), remove by filter, remove by value list, replace all', () => {
    const group: JsonObject = { displayName: 'Engineering', members: [{ value: 'a' }, { value: 'b' }] };
    const added = applyPatch(GROUP_RESOURCE, group, ops({ op: 'add', path: 'members', value: [{ value: 'b' }, { value: 'c' }] }));
    expect(added.members).to.deep.equal([{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
    const filtered = applyPatch(GROUP_RESOURCE, added, ops({ op: 'remove', path: 'members[value eq "a"]' }));
    expect(filtered.members).to.deep.equal([{ value: 'b' }, { value: 'c' }]);
    const listed = applyPatch(GROUP_RESOURCE, filtered, ops({ op: 'remove', path: 'members', value: [{ value: 'c' }, { value: 'nobody' }] }));
    expect(listed.members).to.deep.equal([{ value: 'b' }]);
    const replaced = applyPatch(GROUP_RESOURCE, listed, ops({ op: 'replace', path: 'members', value: [{ value: 'z' }] }));
    expect(replaced.members).to.deep.equal([{ value: 'z' }]);
    const emptied = applyPatch(GROUP_RESOURCE, replaced, ops({ op: 'remove', path: 'members' }));
    expect(emptied).to.not.have.property('members');
    // The input is not changed.
    expect(group.members).to.deep.equal([{ value: 'a' }, { value: 'b' }]);
  });

  it('refuses bad requests with the scimType that says why', () => {
    const cases: Array<[unknown, string]> = [
      [{ schemas: [URN.user], Operations: [{ op: 'add', path: 'active', value: true }] }, 'invalidSyntax'],
      [{ schemas: [URN.patch] }, 'invalidSyntax'],
      [{ schemas: [URN.patch], Operations: [{ op: 'copy', path: 'active', value: true }] }, 'invalidSyntax'],
      [{ schemas: [URN.patch], Operations: [{ op: 'remove' }] }, 'noTarget'],
      [{ schemas: [URN.patch], Operations: [{ op: 'add', path: 5, value: 1 }] }, 'invalidPath'],
      [{ schemas: [URN.patch], Operations: Array.from({ length: 1001 }, () => ({ op: 'remove', path: 'locale' })) }, 'tooMany'],
      ['not an object', 'invalidSyntax'],
    ];
    for (const [body, scimType] of cases) expect(refusal(() => readPatchRequest(body)).scimType, JSON.stringify(body).slice(0, 80)).to.equal(scimType);

    for (const [path, scimType] of [
      ['nickname.value', 'invalidPath'], ['unknown', 'invalidPath'], ['urn:example:x:attr', 'invalidPath'], ['id', 'mutability'],
      ['meta', 'mutability'], ['groups', 'mutability'], ['active[value eq "x"]', 'invalidPath'], ['emails[type eq', 'invalidPath'],
      ['emails[bogus eq "x"].value', 'invalidPath'], ['emails[type qq "x"].value', 'invalidFilter'], ['name.nothing', 'invalidPath'],
    ] as const) expect(refusal(() => parsePath(USER_RESOURCE, path)).scimType, path).to.equal(scimType);

    expect(refusal(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'replace', path: 'emails[value co "zzz"].value', value: 'y' }))).scimType).to.equal('noTarget');
    expect(refusal(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'replace', path: 'active', value: 'maybe' }))).scimType).to.equal('invalidValue');
    expect(refusal(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'replace', value: 'x' }))).scimType).to.equal('invalidValue');
    expect(refusal(() => applyPatch(USER_RESOURCE, user(), ops({ op: 'replace', path: 'name', value: { $where: '1' } }))).scimType).to.equal('invalidSyntax');
  });
});

describe('SCIM resources as sent', () => {
  it('gives attribute names their defined spelling, drops read-only ones, keeps extensions under their URN', () => {
    const read = readResource(USER_RESOURCE, {
      schemas: [URN.user, URN.enterprise], USERNAME: 'a@b.c', Name: { GivenName: 'A' }, id: 'mine', meta: { version: 'x' },
      groups: [{ value: 'g' }], [URN.enterprise]: { Department: 'D' },
    });
    expect(read).to.deep.equal({ userName: 'a@b.c', name: { givenName: 'A' }, [URN.enterprise]: { department: 'D' } });
  });

  it('refuses unknown schemas and attributes, extension attributes without their schema, and operator objects', () => {
    for (const body of [
      { schemas: [URN.group], userName: 'a@b.c' },
      { schemas: [URN.user, 'urn:example:custom'], userName: 'a@b.c' },
      { schemas: 'x', userName: 'a@b.c' },
      { schemas: [URN.user], userName: 'a@b.c', shoeSize: 43 },
      { schemas: [URN.user], userName: 'a@b.c', [URN.enterprise]: { department: 'D' } },
      { schemas: [URN.user, URN.enterprise], userName: 'a@b.c', [URN.enterprise]: { salary: 1 } },
      { schemas: [URN.user], userName: 'a@b.c', $set: { roles: ['admin'] } },
      { schemas: [URN.user], userName: 'a@b.c', name: { $gt: '' } },
    ]) expect(refusal(() => readResource(USER_RESOURCE, body)).scimType, JSON.stringify(body)).to.equal('invalidSyntax');
    for (const body of [
      { schemas: [URN.user], userName: { $ne: null } },
      { schemas: [URN.user], userName: 'a@b.c', emails: { value: 'a@b.c' } },
      { schemas: [URN.user], userName: 'a@b.c', name: 'A' },
      { schemas: [URN.user], userName: 'a@b.c', active: 1 },
    ]) expect(refusal(() => readResource(USER_RESOURCE, body)).scimType, JSON.stringify(body)).to.equal('invalidValue');
  });
});

describe('SCIM attributes and excludedAttributes', () => {
  const resource: JsonObject = { schemas: [URN.user], id: '1', userName: 'a@b.c', name: { givenName: 'A' }, [URN.enterprise]: { department: 'D' }, meta: {} };
  it('keeps the top-level attributes asked for, and always id, schemas and meta', () => {
    expect(projectAttributes(resource, readProjection({ attributes: 'name.givenName' }))).to.deep.equal({ schemas: [URN.user], id: '1', name: { givenName: 'A' }, meta: {} });
    expect(projectAttributes(resource, readProjection({ attributes: `${URN.user}:userName,${URN.enterprise}:department` })))
      .to.have.keys('schemas', 'id', 'userName', URN.enterprise, 'meta');
    expect(projectAttributes(resource, readProjection({ excludedAttributes: 'name,id' }))).to.not.have.property('name');
    expect(projectAttributes(resource, readProjection({ excludedAttributes: 'name,id' }))).to.have.property('id');
    expect(refusal(() => readProjection({ attributes: ['a', 'b'] })).scimType).to.equal('invalidValue');
  });
});

describe('the SCIM domain (src/scim)', () => {
  it('is free of HTTP: no Koa, no web layer, no wiring', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join, resolve } = await import('node:path');
    const dir = resolve(import.meta.dirname, '../../src/scim');
    const offences: string[] = [];
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const match of text.matchAll(/^\s*import\s[^;]*?from\s+'([^']+)'/gm)) {
        const source = match[1]!;
        if (/^(koa|@koa\/|koa-)/.test(source) || source.includes('/web/') || source.endsWith('/deps.ts')) offences.push(`${file} imports ${source}`);
      }
    }
    expect(offences).to.deep.equal([]);
  });
});
