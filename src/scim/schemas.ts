// What our SCIM service provider speaks (RFC 7643): the schemas of the resources
// as far as they map to our accounts, in the format the /Schemas endpoint serves.
// The same definitions read incoming resources: attribute names are matched
// case-insensitively to these, unknown ones are refused, read-only ones ignored.
export const URN = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  enterprise: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  /** Ours: how a created account gets its first password. */
  provisioning: 'urn:latchkey:params:scim:schemas:extension:provisioning:2.0:User',
  list: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patch: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  serviceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
} as const;

export interface Attribute {
  name: string;
  type: 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime';
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  subAttributes?: Attribute[];
  referenceTypes?: string[];
}

type Options = Partial<Omit<Attribute, 'name' | 'type' | 'description'>>;
const attr = (name: string, type: Attribute['type'], description: string, options: Options = {}): Attribute => ({
  name, type, multiValued: false, description, required: false, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none', ...options,
});
const text = (name: string, description: string, options: Options = {}) => attr(name, 'string', description, options);
/** Multi-valued attributes we keep one of: `type` and `primary` are accepted, one value is stored. */
const single = (description: string) => [text('value', description), text('type', 'work, home or other.'), attr('primary', 'boolean', 'The preferred value.')];

export interface ScimSchema {
  id: string;
  name: string;
  description: string;
  attributes: Attribute[];
}

export const USER_SCHEMA: ScimSchema = {
  id: URN.user,
  name: 'User',
  description: 'A Latchkey account.',
  attributes: [
    text('userName', 'The email address the person signs in with (unique, compared case-insensitively).', { required: true, uniqueness: 'server' }),
    attr('name', 'complex', 'The person\'s name.', {
      subAttributes: [
        text('formatted', 'The full name (the account\'s name when displayName is not given).'),
        text('familyName', 'Family name.'),
        text('givenName', 'Given name.'),
        // Kept for directories that send them; not stored.
        text('middleName', 'Not stored.'),
        text('honorificPrefix', 'Not stored.'),
        text('honorificSuffix', 'Not stored.'),
      ],
    }),
    text('displayName', 'The account\'s name (the name claim).'),
    text('locale', 'The person\'s locale (BCP 47, e.g. en-GB).'),
    attr('active', 'boolean', 'false disables the account and signs the person out everywhere.'),
    attr('password', 'string', 'A temporary password, changed at the next sign-in. Never returned.', { mutability: 'writeOnly', returned: 'never' }),
    attr('emails', 'complex', 'The sign-in email, reported from userName; values sent are not kept (change userName instead).', { multiValued: true, subAttributes: single('Email address.') }),
    attr('phoneNumbers', 'complex', 'One phone number (the primary or first one given).', { multiValued: true, subAttributes: single('Phone number.') }),
    attr('addresses', 'complex', 'One postal address (the primary or first one given).', {
      multiValued: true,
      subAttributes: [
        text('formatted', 'Not stored.'), text('streetAddress', 'Street.'), text('locality', 'City or locality.'), text('region', 'Region.'),
        text('postalCode', 'Postal code.'), text('country', 'Country.'), text('type', 'work, home or other.'), attr('primary', 'boolean', 'The preferred address.'),
      ],
    }),
    attr('groups', 'complex', 'The groups the account belongs to (change them through /Groups).', {
      multiValued: true, mutability: 'readOnly',
      subAttributes: [
        text('value', 'Group id.', { mutability: 'readOnly', caseExact: true }),
        attr('$ref', 'reference', 'Group URI.', { mutability: 'readOnly', referenceTypes: ['Group'] }),
        text('display', 'Group name.', { mutability: 'readOnly' }),
        text('type', 'direct.', { mutability: 'readOnly' }),
      ],
    }),
    // Core attributes we do not keep: accepted and ignored, so a directory's standard mapping works.
    ...['nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'timezone'].map((name) => text(name, 'Not stored.')),
  ],
};

export const ENTERPRISE_SCHEMA: ScimSchema = {
  id: URN.enterprise,
  name: 'EnterpriseUser',
  description: 'Enterprise attributes, kept and returned as given.',
  attributes: [
    text('employeeNumber', 'Employee number.'),
    text('costCenter', 'Cost center.'),
    text('organization', 'Organization.'),
    text('division', 'Division.'),
    text('department', 'Department.'),
    attr('manager', 'complex', 'The manager.', {
      subAttributes: [
        text('value', 'The manager\'s id.', { caseExact: true }),
        attr('$ref', 'reference', 'The manager\'s URI.', { mutability: 'readOnly', referenceTypes: ['User'] }),
        text('displayName', 'Not stored.', { mutability: 'readOnly' }),
      ],
    }),
  ],
};

export const PROVISIONING_SCHEMA: ScimSchema = {
  id: URN.provisioning,
  name: 'LatchkeyProvisioning',
  description: 'How an account created without a password gets its first one.',
  attributes: [
    attr('sendInvitation', 'boolean', 'On create without a password: email an invitation to choose one (default true). false: the account waits without a password until an operator sends one.', { mutability: 'writeOnly', returned: 'never' }),
  ],
};

export const GROUP_SCHEMA: ScimSchema = {
  id: URN.group,
  name: 'Group',
  description: 'A group; its displayName is in each member\'s groups claim.',
  attributes: [
    text('displayName', 'The group\'s name (unique, compared case-insensitively; the value in the groups claim).', { required: true, uniqueness: 'server' }),
    attr('members', 'complex', 'The accounts in the group.', {
      multiValued: true,
      subAttributes: [
        text('value', 'The account id.', { caseExact: true, mutability: 'immutable' }),
        attr('$ref', 'reference', 'The account URI.', { mutability: 'immutable', referenceTypes: ['User'] }),
        text('display', 'The account\'s email.', { mutability: 'readOnly' }),
        text('type', 'User.', { mutability: 'immutable' }),
      ],
    }),
  ],
};

/** Attributes every resource has (RFC 7643 §3.1): id and meta are read-only, externalId belongs to the client. */
export const COMMON_ATTRIBUTES: Attribute[] = [
  text('id', 'Our identifier.', { caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server' }),
  text('externalId', 'The client\'s identifier.', { caseExact: true }),
  attr('meta', 'complex', 'Resource metadata.', { mutability: 'readOnly' }),
];

export const SCHEMAS: readonly ScimSchema[] = [USER_SCHEMA, ENTERPRISE_SCHEMA, PROVISIONING_SCHEMA, GROUP_SCHEMA];

export interface ResourceKind {
  name: 'User' | 'Group';
  endpoint: '/Users' | '/Groups';
  schema: ScimSchema;
  extensions: ScimSchema[];
}

export const USER_RESOURCE: ResourceKind = { name: 'User', endpoint: '/Users', schema: USER_SCHEMA, extensions: [ENTERPRISE_SCHEMA, PROVISIONING_SCHEMA] };
export const GROUP_RESOURCE: ResourceKind = { name: 'Group', endpoint: '/Groups', schema: GROUP_SCHEMA, extensions: [] };
export const RESOURCE_KINDS: readonly ResourceKind[] = [USER_RESOURCE, GROUP_RESOURCE];

/** Filters and pages: at most this many resources per page (and per filter). */
export const MAX_RESULTS = 200;
/** Request bodies: at most this many bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** PATCH: at most this many operations in one request. */
export const MAX_OPERATIONS = 1000;

/** The /ServiceProviderConfig document (RFC 7643 §5). */
export function serviceProviderConfig(baseUrl: string, issuer: string): Record<string, unknown> {
  return {
    schemas: [URN.serviceProviderConfig],
    documentationUri: `${issuer}/`,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [{
      type: 'oauthbearertoken',
      name: 'OAuth Bearer Token',
      description: `A client credentials access token from ${issuer}/token with the scope "scim", for a client registered with that scope.`,
      specUri: 'https://www.rfc-editor.org/info/rfc6750',
      primary: true,
    }],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

export function resourceTypeDocument(kind: ResourceKind, baseUrl: string): Record<string, unknown> {
  return {
    schemas: [URN.resourceType],
    id: kind.name,
    name: kind.name,
    endpoint: kind.endpoint,
    description: kind.schema.description,
    schema: kind.schema.id,
    schemaExtensions: kind.extensions.map((extension) => ({ schema: extension.id, required: false })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${kind.name}` },
  };
}

export function schemaDocument(schema: ScimSchema, baseUrl: string): Record<string, unknown> {
  const core = schema.id === URN.user || schema.id === URN.group;
  return {
    schemas: [URN.schema],
    ...schema,
    // id, externalId and meta are common to every resource (RFC 7643 §3.1); the core schemas list the first two.
    attributes: core ? [...COMMON_ATTRIBUTES.slice(0, 2), ...schema.attributes] : schema.attributes,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  };
}
